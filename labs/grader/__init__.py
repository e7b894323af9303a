"""The grader's parts (labs/grade.py is the command): report formats,
unpacking a submission, running a process with limits, reading the test
runners' output strictly, running rubric groups, the Gradescope bundle.

Standard library only."""
