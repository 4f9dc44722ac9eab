"""The local Hub's web pages: dataset and model pages, files, history, the viewer, a front page."""
