"""``lifecircle serve``: a what-if map of a finished study (:mod:`.state`, :mod:`.app`)."""
