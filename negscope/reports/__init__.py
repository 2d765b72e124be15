"""Reports: matplotlib figures and the HTML/Markdown report."""
