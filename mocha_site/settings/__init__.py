"""Settings package: common.py holds everything; dev/prod/test adjust it.

Environment variables are read here and nowhere else.
"""
