"""The rollup tables, one module each: its name, the increment a flush adds to it and, for a
derived table, its rebuild from HourlyStat, side by side.

`stats.rollups` derives a flush's rows for every derived table from the hourly counters in one
pass and runs the rebuilds when a guild's timezone or exclusions change; the collector's writer
applies the increments; the query layer reads the tables by the names defined here.
"""
