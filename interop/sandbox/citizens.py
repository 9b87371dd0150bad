"""The sandbox's test citizens (fictitious ID numbers). They sign in at the sandbox's OIDC
provider with the demo password; the demo data gives the first two dossiers (dossiers/demo.py
uses other ID numbers, so these see only what is submitted in their name)."""

PASSWORD = "motcua-demo"  # noqa: S105 (a published test password of the sandbox)

CITIZENS = {
    "001090000001": {"name": "Nguyễn Văn An", "email": "an.nguyen@example.vn", "phone": "0912000001"},
    "001090000002": {"name": "Trần Thị Bình", "email": "binh.tran@example.vn", "phone": "0912000002"},
    "001090000003": {"name": "Lê Hoàng Cường", "email": "cuong.le@example.vn", "phone": "0912000003"},
}
