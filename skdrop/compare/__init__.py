"""``python -m skdrop compare``: skdrop's MLP against scikit-learn's.

``cli`` parses and checks the arguments, ``data`` loads a bundled data set or
a CSV file, ``run`` runs the splits, searches and scores, ``stats`` computes
the corrected intervals, ``report`` renders text, Markdown, JSON and the plot,
``files`` writes the outputs whole. Nothing is imported here, so that the
argument parser (and ``--help``) starts without loading scikit-learn.
"""
