-- Perturbed counts: every cell of the cube perturbed by the cell key method, then rounded for the published tables. A
-- cell's row of the ptable is its pcv (sql/ptable_row.sql: its count, or above the table's range a repeated row); its
-- column is its cell key reduced to the ptable's key range. Zero cells stay zero (no empty cell is stored, and row 0 of
-- every ptable is zero). Neither the unperturbed count nor the cell key is carried on: with the public ptable, either
-- would give the noise away.
WITH rule AS (
    SELECT max_pcv, repeat_period, key_range FROM reference.ptable_rule
),
cells AS (
    SELECT
        counts.* EXCLUDE (cell_key),
        ptable_row(counts.registrations, rule.max_pcv, rule.repeat_period) AS pcv,
        counts.cell_key % rule.key_range AS ckey
    FROM stat.registration_counts AS counts, rule
    WHERE counts.quarter IN (SELECT unnest($quarters))
),
perturbed AS (
    SELECT
        cells.* EXCLUDE (registrations, pcv, ckey),
        cells.registrations + ptable.pvalue AS perturbed_value
    FROM cells
    JOIN reference.ptable AS ptable USING (pcv, ckey)
)
SELECT
    *,
    -- to the nearest multiple of the base, halves up (values are never negative)
    CAST((perturbed_value + $rounding_base // 2) // $rounding_base * $rounding_base AS INTEGER) AS published_value
FROM perturbed
