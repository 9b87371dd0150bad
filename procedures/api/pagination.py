"""Page numbers for the catalogue without running the search twice.

DRF's page-number pagination runs the filter twice: `COUNT(*)` for the total, then the page. A
catalogue search is a scan of every procedure's folded name (a few milliseconds for 5,000
procedures) behind a large ranking expression, so that doubles the cost of the most common
public request. Here the filtered, ranked query runs once, for the ordered ids of every match (a
few hundred integers at most); the total is their number, and the page's rows are read by primary
key from the view's plain queryset, then put back in rank order."""

from django.core.paginator import Page, Paginator
from rest_framework.pagination import PageNumberPagination


class IdsFirstPaginator(Paginator):
    """A Django paginator over the ordered ids of `queryset`; a page holds the instances of
    `rows` (a queryset of the same model, without the filter) with those ids, in that order."""

    def __init__(self, queryset, per_page, *, rows, **kwargs):
        self.rows = rows
        super().__init__(list(queryset.values_list("pk", flat=True)), per_page, **kwargs)

    def _get_page(self, object_list, number, paginator):
        ids = list(object_list)
        found = {row.pk: row for row in self.rows.filter(pk__in=ids)} if ids else {}
        return Page([found[pk] for pk in ids if pk in found], number, paginator)


class CataloguePagination(PageNumberPagination):
    """Page numbers over `IdsFirstPaginator`; the rows come from `view.get_queryset()`."""

    def paginate_queryset(self, queryset, request, view=None):
        rows = view.get_queryset() if view is not None else queryset.model._default_manager.all()
        self.django_paginator_class = lambda items, per_page: IdsFirstPaginator(items, per_page, rows=rows)
        return super().paginate_queryset(queryset, request, view)
