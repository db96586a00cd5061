from django.db import models
from django.utils import timezone


class SignatureFamilyTally(models.Model):
    """How many accepted webhooks each signature header family carried, per endpoint.

    Plivo's messaging docs describe only V2 while its SDK and voice docs describe V3; this
    tells an operator which family real traffic uses (and when it last did).
    """

    endpoint = models.CharField(max_length=100)
    family = models.CharField(max_length=8)
    count = models.PositiveBigIntegerField(default=0)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["endpoint", "family"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "family"], name="one_tally_per_endpoint_family")]

    def __str__(self):
        return f"{self.endpoint} {self.family}: {self.count}"
