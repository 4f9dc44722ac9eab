"""Orchestration: the flows that run the stages in order (build, release). The one place where
builders, filters, cards and publishing meet; see ARCHITECTURE.md."""
