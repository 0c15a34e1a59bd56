"""Analysis: tables and arrays in, tables out (travel engine, coverage, gaps, capacity,
location models, input checks). No files are written here and nothing draws.
"""
