"""Numbers of the lifecycle's vocabulary that an administrator edits in another app.

"Due soon" looks `due_soon_working_days()` working days ahead. The number belongs to the
admin-editable reminder policy (`notifications.ReminderPolicy`), which registers its reader here
at start-up (`NotificationsConfig.ready`), so the workspace tab, the morning digest and the
reminder scan use the same number while the lifecycle imports nothing of the notifications app.
Without a registered reader (the notifications app not installed) the default below applies.
"""

DEFAULT_DUE_SOON_WORKING_DAYS = 1

_readers = {}


def register(name, reader):
    """Install `reader()` as the source of the number `name` (one reader per name)."""
    if name not in ("due_soon_working_days",):
        raise ValueError(f"Unknown policy number {name!r}.")
    _readers[name] = reader


def due_soon_working_days():
    reader = _readers.get("due_soon_working_days")
    return DEFAULT_DUE_SOON_WORKING_DAYS if reader is None else reader()
