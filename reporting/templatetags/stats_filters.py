"""The statistics filter form's `<option>`s, written in Python: the form has five lists (periods,
years, months, quarters, a province's agencies and fields) and a template loop with a comparison
per option cost the page more than its table's markup."""

from django import template
from django.utils.html import format_html_join

register = template.Library()


@register.simple_tag
def options(pairs, selected):
    """`<option value="…">label</option>` for each (value, label) of `pairs`, `selected` on the one
    whose value, as text, is `selected` as text (form data are text, cleaned values are not); None
    selects nothing."""
    chosen = None if selected is None else str(selected)
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((value, " selected" if str(value) == chosen else "", label) for value, label in pairs),
    )
