"""The sandbox's state: what a national portal would hold. Stored in the database (the web server
that serves the sandbox and the tests read the same rows); imported by `interop.models`."""

from django.db import models
from django.utils import timezone


class SandboxDossier(models.Model):
    """The national side's copy of a dossier: the newest DongBoHoSoMC it received."""

    national_code = models.CharField(max_length=64, unique=True)
    data = models.JSONField(default=dict)
    status = models.CharField(max_length=4, blank=True)
    version = models.CharField(max_length=32, blank=True)  # the snapshot's update moment (newest wins)
    deliveries = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "sandbox: dossier"

    def __str__(self):
        return self.national_code


class SandboxProgress(models.Model):
    """One progress entry (CapNhatTienDoHoSoMC); a repeat of a key is dropped and counted."""

    national_code = models.CharField(max_length=64, db_index=True)
    key = models.CharField(max_length=80, unique=True)
    data = models.JSONField(default=dict)
    repeats = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "sandbox: progress entry"
        ordering = ["id"]

    def __str__(self):
        return self.key


class SandboxSubmission(models.Model):
    """An online submission made on the (sandbox) portal, handed out until acknowledged."""

    national_code = models.CharField(max_length=64, unique=True)
    data = models.JSONField(default=dict)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    our_code = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "sandbox: online submission"
        ordering = ["id"]

    def __str__(self):
        return self.national_code


class SandboxFile(models.Model):
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()

    class Meta:
        verbose_name = "sandbox: file"

    def __str__(self):
        return self.name


class SandboxCatalogueEntry(models.Model):
    """A procedure of the national catalogue (LayDanhSachTTHC / LayThuTuc), in the portal's fields."""

    code = models.CharField(max_length=40, unique=True)
    data = models.JSONField(default=dict)

    class Meta:
        verbose_name = "sandbox: catalogue entry"
        ordering = ["code"]

    def __str__(self):
        return self.code


class SandboxFaults(models.Model):
    """What the sandbox does wrong, as shares of calls (0–1): `fail_rate` answers 500 without doing
    anything; `timeout_rate` does the work, then answers only after `delay_seconds` (the caller
    has given up and will repeat it); `duplicate_rate` does the work twice (a network that
    delivers a request twice); `reorder_rate` answers at once but applies the request only after
    the next one (out of order). `down` answers 503 to everything."""

    fail_rate = models.FloatField(default=0)
    timeout_rate = models.FloatField(default=0)
    delay_seconds = models.FloatField(default=3)
    duplicate_rate = models.FloatField(default=0)
    reorder_rate = models.FloatField(default=0)
    down = models.BooleanField(default=False)
    calls = models.PositiveIntegerField(default=0)
    faults = models.PositiveIntegerField(default=0)
    # A request held back by the reorder fault, applied after the next one.
    held = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = "sandbox: faults"

    def __str__(self):
        return "faults"

    @classmethod
    def get(cls):
        return cls.objects.get_or_create(pk=1)[0]


class SandboxKey(models.Model):
    """The OIDC provider's signing key (a private RSA JWK), created on first use."""

    kid = models.CharField(max_length=64, unique=True)
    private_jwk = models.JSONField()

    class Meta:
        verbose_name = "sandbox: signing key"

    def __str__(self):
        return self.kid


class SandboxGrant(models.Model):
    """An authorisation code and, once exchanged, its access token (one citizen each)."""

    code = models.CharField(max_length=64, unique=True)
    access_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    citizen = models.CharField(max_length=20)  # the test citizen's ID number
    client_id = models.CharField(max_length=100)
    redirect_uri = models.CharField(max_length=500)
    nonce = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    used = models.BooleanField(default=False)

    class Meta:
        verbose_name = "sandbox: OIDC grant"

    def __str__(self):
        return self.code
