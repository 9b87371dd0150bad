"""Display helpers for the catalogue pages: money, processing time and appointment dates.

Dates are always day-first (dd/mm/yyyy), in every language: the site serves Vietnamese
citizens, for whom 05/12 is the 5th of December.
"""

from datetime import time
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import dateformat, timezone
from django.utils.formats import number_format
from django.utils.translation import get_language, ngettext, pgettext
from django.utils.translation import gettext as _

register = template.Library()

NOON = time(12, 0)


@register.filter
def vnd(amount):
    """50000 → "50.000 đ" in Vietnamese, "VND 50,000" in English; "" for None/garbage."""
    try:
        amount = int(amount)
    except (TypeError, ValueError):
        return ""
    if (get_language() or "vi").startswith("vi"):
        return f"{amount:,} đ".replace(",", ".")
    return f"VND {amount:,}"


@register.filter
def working_days(days):
    """A processing time in working days as words: 0 → "same working day", 0.5 → "half a
    working day", 3 → "3 working days", 1.5 → "1,5 working days" (vi decimal comma)."""
    try:
        days = Decimal(days)
    except (TypeError, ValueError, InvalidOperation):
        return ""
    if days == 0:
        return _("Same working day")
    if days == Decimal("0.5"):
        return _("Half a working day")
    if days == days.to_integral_value():
        count, shown = int(days), str(int(days))
    else:
        count, shown = 2, number_format(days, decimal_pos=1)
    return ngettext("%(days)s working day", "%(days)s working days", count) % {"days": shown}


@register.filter
def half_day_date(moment):
    """An appointment as weekday, dd/mm/yyyy and half of the day, in the project's time
    zone: "Friday 05/12/2025 (afternoon)" ("Thứ 6 05/12/2025 (chiều)")."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    is_morning = local.time() < NOON
    half = pgettext("half of the day", "morning") if is_morning else pgettext("half of the day", "afternoon")
    return _("%(weekday)s %(date)s (%(half_day)s)") % {
        "weekday": dateformat.format(local, "l"),
        "date": dateformat.format(local, "d/m/Y"),
        "half_day": half,
    }
