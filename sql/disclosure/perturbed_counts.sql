-- Perturbed counts: every published cell (the cross-classifications of $classifications, for the run's quarters),
-- derived from the finest cells and perturbed by the cell key method (`perturbed_cells`, sql/derived_cells.sql),
-- then rounded for the tables. Neither the unperturbed count nor the cell key is carried on: with the public ptable,
-- either would give the noise away.
SELECT
    cells.* EXCLUDE (registrations, cell_key),
    -- to the nearest multiple of the base, halves up (values are never negative)
    CAST((cells.perturbed_value + $rounding_base // 2) // $rounding_base * $rounding_base AS INTEGER)
        AS published_value
FROM perturbed_cells($quarters, $classifications, $record_key_range) AS cells
