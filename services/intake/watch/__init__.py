"""Nothing stuck silently: intake watches its own referrals (issue 18, defect 3).

`rules.py` decides, purely, what is stuck and what to do about it; `store.py`
reads the facts from intake's tables and records what was done; `watchdog.py`
is the periodic task the app's lifespan runs; `models.py` keeps the notifier's
reported outcomes, so intake can tell whether the survivor heard of a placement.
"""
