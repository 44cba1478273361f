"""The analyzers: each module wraps one tool and turns its output into Findings."""
