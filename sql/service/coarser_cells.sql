-- A coarser grain of the query service's cells, built the first time a table asks for it and kept (appended to
-- `rollup_cells` in quarter order, so that scans skip by grain and quarter): the cells of the same fields at their
-- finest levels ($finer_grain), with the nationality's and the geography's codes replaced by their members at the
-- coarser levels asked for ($nationality_level, $geography_level: a valueset's position, 0 the finest, which
-- `code_levels` does not list and so keeps), summed. A table of regions then reads one row per region rather than
-- one per local authority.
SELECT
    $grain AS grain,
    cells.quarter,
    coalesce(nationality_level.member_number, cells.nationality) AS nationality,
    cells.age,
    cells.sex,
    coalesce(geography_level.member_number, cells.geography) AS geography,
    sum(cells.registrations) AS registrations,
    sum(cells.key_sum) AS key_sum
FROM rollup_cells AS cells
LEFT JOIN code_levels AS nationality_level
    ON nationality_level.dimension = 'nationality' AND nationality_level.level = $nationality_level
    AND nationality_level.code_number = cells.nationality
LEFT JOIN code_levels AS geography_level
    ON geography_level.dimension = 'geography' AND geography_level.level = $geography_level
    AND geography_level.code_number = cells.geography
WHERE cells.grain = $finer_grain
GROUP BY ALL
