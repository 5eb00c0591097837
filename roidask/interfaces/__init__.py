"""Interfaces to the outputs of other neuroimaging tools (nilearn's ``nilearn.interfaces``)."""
