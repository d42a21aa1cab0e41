"""nino-stats: the quarterly statistics of National Insurance number allocations to adult overseas nationals, as a
reproducible analytical pipeline. One package a stage of the data journey; `definitions` is the code location."""
