"""The advice: options that close a gap (``options``, ``generators``), ranked (``recommend``), and their artefacts (``emit``)."""
