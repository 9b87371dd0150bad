"""The national catalogue, fetched from the sandbox over HTTP, compared with ours; an admin applies
the chosen differences through the importer (versions kept) or dismisses them."""

from decimal import Decimal

from interop import catalogue
from interop.models import CatalogueReview
from interop.sandbox import seed
from procedures.models import Procedure
from tests.factories import Office, make_user


def test_differences_are_shown_to_the_admin_and_applied_through_the_importer(sandbox, client):
    first, second = Office(), Office()
    seed.load_catalogue()  # ours, the first renamed, the second one day faster, and one new
    admin = make_user("catalogue-admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post("/admin/interop/cataloguereview/lay-danh-muc/")
    review = CatalogueReview.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{review.pk}/change/")
    kinds = {change["code"]: change["kind"] for change in review.changes}
    assert kinds == {first.procedure.code: "changed", second.procedure.code: "changed", "9.999999": "new"}
    page = client.get(response["Location"]).content.decode()
    assert "sửa đổi theo Quyết định mới" in page and "9.999999" in page

    version = first.procedure.version
    applied = client.post(f"/admin/interop/cataloguereview/{review.pk}/ap-dung/", {"code": [first.procedure.code]})
    assert applied.status_code == 302
    first.procedure.refresh_from_db()
    second.procedure.refresh_from_db()
    assert first.procedure.name.endswith("(sửa đổi theo Quyết định mới)") and first.procedure.version == version + 1
    assert second.procedure.processing_days == Decimal("3")  # not chosen: unchanged
    assert not Procedure.objects.filter(code="9.999999").exists()
    review.refresh_from_db()
    assert review.state == CatalogueReview.State.APPLIED and review.report["updated"] == 1
    assert catalogue.review() is not None  # the differences not applied are still reported next time
