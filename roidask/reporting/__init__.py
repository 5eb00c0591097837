"""HTML reports and their pictures.

A masker's ``generate_report`` hands its content to :func:`render_report` as
a :class:`ReportContent` (overlay, summary, table, parameters); the code here
renders it and knows no masker class.
"""

from roidask.reporting.clusters_table import get_clusters_table
from roidask.reporting.html_report import (
    Report,
    ReportContent,
    ReportUnavailableError,
    render_report,
)

__all__ = [
    "Report", "ReportContent", "ReportUnavailableError", "get_clusters_table", "render_report",
]
