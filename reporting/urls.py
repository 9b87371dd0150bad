"""Statistics pages and exports (/thong-ke/): dossiers/stats_views.py; the API is dossiers/api/stats.py."""

from django.urls import path

from reporting import index_views
from reporting import views as stats_views

app_name = "stats"
urlpatterns = [
    path("thong-ke/", stats_views.dashboard, name="dashboard"),
    path("thong-ke/tien-do.xlsx", stats_views.table_xlsx, name="table_xlsx"),
    path("thong-ke/tien-do.csv", stats_views.table_csv, name="table_csv"),
    path("thong-ke/so-theo-doi.xlsx", stats_views.register_xlsx, name="register_xlsx"),
    path("thong-ke/so-theo-doi.pdf", stats_views.register_pdf, name="register_pdf"),
    path("thong-ke/ho-so/", stats_views.dossier_list, name="dossiers"),
    path("thong-ke/ho-so.xlsx", stats_views.dossier_list_xlsx, name="dossiers_xlsx"),
    path("thong-ke/chi-so/", index_views.index_page, name="index"),
    path("thong-ke/chi-so.xlsx", index_views.index_xlsx, name="index_xlsx"),
]
