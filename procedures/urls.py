from django.urls import path

from . import views

app_name = "procedures"
urlpatterns = [
    path("", views.home, name="home"),
    path("thu-tuc/", views.procedure_list, name="list"),
    path("thu-tuc/<str:code>/", views.procedure_detail, name="detail"),
    path("thu-tuc/<str:code>/mau/<int:pk>/", views.document_template, name="document-template"),
]
