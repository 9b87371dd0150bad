from rest_framework.negotiation import BaseContentNegotiation


class FirstRendererNegotiation(BaseContentNegotiation):
    """Always the view's first renderer, whatever the client's Accept header says: the API docs
    page is HTML and the binary endpoints (PDF, downloads) are files, even for API clients that
    send `Accept: application/json` everywhere. Their errors stay JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
