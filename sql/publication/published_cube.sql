-- The published cube: the finest cells of the release's quarters (stat.finest_cells), with the published dimensions'
-- codes (those of stat.cube_dimensions), each cell's count and cell key. Any cell of the published dimensions is a
-- sum of these: its count, and its cell key (the sum of the cell keys modulo the record key range), are exactly those
-- of its own records, as in the published tables. No pseudonym, no date, no area finer than the local authority, no
-- record: counts of cells, unperturbed, for the service to perturb. Ordered, so that the same warehouse gives the
-- same file.
WITH members AS (
    SELECT member_id, code FROM stat.cube_dimensions
)
SELECT
    cells.quarter,
    country.code AS nationality,
    band.code AS age_band,
    sex.code AS sex,
    local_authority.code AS local_authority,
    cells.registrations,
    cells.cell_key
FROM stat.finest_cells AS cells
JOIN members AS country ON country.member_id = cells.nationality_member
JOIN members AS band ON band.member_id = cells.age_member
JOIN members AS sex ON sex.member_id = cells.sex_member
JOIN members AS local_authority ON local_authority.member_id = cells.geography_member
WHERE cells.quarter BETWEEN $first_quarter AND $reference_quarter
ORDER BY quarter, nationality, age_band, sex, local_authority
