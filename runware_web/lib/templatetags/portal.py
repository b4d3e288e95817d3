"""The portal's formatting filters, for every page: `{% load portal %}`."""

from __future__ import annotations

from django import template

from runware_web.lib import durations, kinds, money

register = template.Library()

register.filter("usd", money.usd)
register.filter("usd_estimate", money.usd_estimate)
register.filter("duration", durations.duration)
register.filter("kind_label", kinds.kind_label)
register.filter("results_label", kinds.results_label)
