extra_urlpatterns = []


def register(router):
    """Register this app's viewsets on the project's API router."""
