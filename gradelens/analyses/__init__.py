"""Statistics that SQL cannot express well, as Python functions over named-query results.

Every module in this package is imported by `gradelens.queries.all_queries()`, so a
function decorated with `@python_query(...)` here becomes a named query the CLI and the
pages reach like a SQL file.
"""
