"""The functional core: plain Python domain rules.

Nothing in this package imports frappe or erpnext, reads the clock, the database or settings. Glue code
(events, api, tasks) loads the data, calls these functions and writes the result.
"""
