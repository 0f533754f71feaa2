"""The in-app inbox: messages the notifier posts for an organization, shown by intake.

`projection.py` stores what arrives on `notification.inbox` (and forgets it on
erasure); `handlers.py` is what staff and outreach workers do with it; `links.py`
decides, purely, where a message may point its reader.
"""
