from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models

_money = {"max_digits": 14, "decimal_places": 4, "validators": [MinValueValidator(0)]}


class Team(models.Model):
    """A group of members who share a budget and a team gallery."""

    name = models.CharField(max_length=100, unique=True)
    monthly_budget = models.DecimalField(
        **_money, null=True, blank=True, help_text="US dollars per calendar month; empty means no limit."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    monthly_budget = models.DecimalField(
        **_money, null=True, blank=True, help_text="US dollars per calendar month; empty means no limit."
    )

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
