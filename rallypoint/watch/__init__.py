"""``rallypoint watch``: clusters followed across runs (tracks) and alerts days before the event.

Modules: :mod:`~rallypoint.watch.tracks` (stable track ids by optimal Jaccard matching),
:mod:`~rallypoint.watch.rules` (the TOML rules), :mod:`~rallypoint.watch.alerts` (rules
applied to one run), :mod:`~rallypoint.watch.sinks` (``alerts.jsonl`` and the webhook),
:mod:`~rallypoint.watch.watcher` (the loop), :mod:`~rallypoint.watch.acknowledge` (an
analyst's acknowledgement) and :mod:`~rallypoint.watch.leadtime` (replaying a simulated
world to measure how early alerts come). See docs/watch.md.
"""
