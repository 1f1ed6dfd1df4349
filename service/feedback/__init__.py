"""Feedback: a judged program's structured result in, the classified, located, rewarded
result out (the last stage of the data flow; docs/feedback.md has the rules).

Owns the coordinates of the texts a trainer sent (:mod:`.coordinates`), where an error is
(:mod:`.location`), RLTF's taxonomy (:mod:`.taxonomy`), truncated code
(:mod:`.truncation`), the reward schemes (:mod:`.rewards`) and the facade that applies
them to a result (:func:`annotate`, :mod:`.annotation`). Everything here is pure: no I/O,
no clock, no settings. It may import the wire models (``client.models``) and
:mod:`service.errors`, nothing else of the service; every other stage may import it.
"""

from service.feedback.annotation import annotate

__all__ = ["annotate"]
