from django.urls import path

from . import views

app_name = "signing"
urlpatterns = [
    path("xac-thuc/<str:code>", views.verify, name="verify"),
    path("tra-cuu/ket-qua/<str:token>/", views.download, name="download"),
    path("can-bo/ho-so/<str:code>/ket-qua.pdf", views.result_pdf, name="result_pdf"),
    path("can-bo/ho-so/<str:code>/ket-qua/du-thao.pdf", views.preview_pdf, name="preview"),
    path("can-bo/ho-so/<str:code>/ket-qua/tai-len/", views.upload_result, name="upload"),
    path("can-bo/ho-so/<str:code>/so-hoa/", views.digitise, name="digitise"),
]
