"""nbgrader's configuration for the stalksim course (run nbgrader in this folder)."""

c = get_config()  # noqa: F821 - nbgrader provides it

c.CourseDirectory.course_id = "stalksim"
c.CourseDirectory.root = "."
# What replaces a solution region in the student version: the starter code stays above it.
c.ClearSolutions.code_stub = {"python": "# your answer: change the starter code above"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# An exercise's check simulates a few thousand jobs at most: a cell has two minutes.
c.ExecutePreprocessor.timeout = 120
