-- Derived cells: the count and cell key of every non-empty cell of some cross-classifications, for some periods,
-- summed from the finest cells (stat.finest_cells), and `perturbed_cells`, the same perturbed. The one definition of
-- a cell's count, key and perturbed value, used by the published cells (perturbed_counts.sql), the disclosure check
-- and the tests.
--   periods: a list of quarter labels, each the last quarter of its period;
--   classifications: a list of {period_type ('quarter' or 'year_ending', the four quarters to the period's last),
--   nationality_level, age_level, sex_level, geography_level}, levels as in stat.cube_dimensions.
-- A cell's count is the sum of its finest cells' counts, and its key the sum of their keys modulo the key range:
-- both are exactly its own records', whatever the level or period. Temporary macros: each connection defines them.
CREATE OR REPLACE TEMP MACRO quarter_number(label) AS
    4 * CAST(left(label, 4) AS INTEGER) + CAST(right(label, 1) AS INTEGER) - 1;

CREATE OR REPLACE TEMP MACRO quarter_label(number) AS
    format('{}-Q{}', number // 4, number % 4 + 1);

CREATE OR REPLACE TEMP MACRO member_at_level() AS TABLE
-- each member, and the member it belongs to at each level above it (itself included)
WITH RECURSIVE ancestry(member_id, ancestor_id) AS (
    SELECT member_id, member_id FROM stat.cube_dimensions
    UNION ALL
    SELECT ancestry.member_id, parent.parent_member_id
    FROM ancestry
    JOIN stat.cube_dimensions AS parent ON parent.member_id = ancestry.ancestor_id
    WHERE parent.parent_member_id IS NOT NULL
)
SELECT ancestry.member_id, ancestor.level, ancestry.ancestor_id
FROM ancestry
JOIN stat.cube_dimensions AS ancestor ON ancestor.member_id = ancestry.ancestor_id;

CREATE OR REPLACE TEMP MACRO derived_cells(periods, classifications, record_key_range) AS TABLE
WITH wanted AS (
    SELECT unnest(classifications, recursive := true)
),
level_sets AS MATERIALIZED (
    -- a cross-classification's levels, whatever its period type: quarters and years of them share quarter cells;
    -- numbered, so that the finest cells are grouped by a number rather than by four level names (materialised:
    -- both readers see the same numbers)
    SELECT row_number() OVER () AS level_set, *
    FROM (SELECT DISTINCT nationality_level, age_level, sex_level, geography_level FROM wanted)
),
quarters_of_periods AS (
    -- the quarters a period's cells are summed over: its own, or the four to it
    SELECT period.label AS period, wanted.*, quarter_label(quarter_number(period.label) - back.quarters) AS quarter
    FROM (SELECT unnest(periods) AS label) AS period
    CROSS JOIN wanted
    JOIN (VALUES (0), (1), (2), (3)) AS back(quarters)
        ON back.quarters < CASE wanted.period_type WHEN 'year_ending' THEN 4 ELSE 1 END
),
totals AS (
    SELECT
        max(member_id) FILTER (WHERE dimension = 'nationality') AS nationality,
        max(member_id) FILTER (WHERE dimension = 'age') AS age,
        max(member_id) FILTER (WHERE dimension = 'sex') AS sex,
        max(member_id) FILTER (WHERE dimension = 'geography') AS geography
    FROM stat.cube_dimensions
    WHERE level = 'total'
),
finest_with_ancestors AS (
    -- each finest cell with the member it belongs to at every level of each dimension
    SELECT
        cells.*,
        subgroup.member_id AS subgroup_member,
        subgroup.parent_member_id AS world_area_member,
        world_area.parent_member_id AS eu_group_member,
        region.member_id AS region_member,
        region.parent_member_id AS country_of_uk_member
    FROM stat.finest_cells AS cells
    JOIN stat.cube_dimensions AS country ON country.member_id = cells.nationality_member
    JOIN stat.cube_dimensions AS subgroup ON subgroup.member_id = country.parent_member_id
    JOIN stat.cube_dimensions AS world_area ON world_area.member_id = subgroup.parent_member_id
    JOIN stat.cube_dimensions AS area ON area.member_id = cells.geography_member
    JOIN stat.cube_dimensions AS region ON region.member_id = area.parent_member_id
    WHERE cells.quarter IN (SELECT quarter FROM quarters_of_periods)
),
quarter_cells AS (
    -- each level set's cells in each quarter a period needs. A year's cells are then sums of its quarters' cells,
    -- exact for counts and key sums alike, so the finest cells are summed once a level set, not once a period.
    SELECT
        cells.quarter,
        level_sets.level_set,
        CASE level_sets.nationality_level WHEN 'country' THEN cells.nationality_member
            WHEN 'subgroup' THEN cells.subgroup_member WHEN 'world_area' THEN cells.world_area_member
            WHEN 'eu_group' THEN cells.eu_group_member ELSE totals.nationality END AS nationality_member,
        CASE level_sets.age_level WHEN 'band' THEN cells.age_member ELSE totals.age END AS age_member,
        CASE level_sets.sex_level WHEN 'sex' THEN cells.sex_member ELSE totals.sex END AS sex_member,
        CASE level_sets.geography_level WHEN 'local_authority' THEN cells.geography_member
            WHEN 'region' THEN cells.region_member WHEN 'country' THEN cells.country_of_uk_member
            ELSE totals.geography END AS geography_member,
        sum(cells.registrations) AS registrations,
        sum(cells.cell_key) AS key_sum
    FROM finest_with_ancestors AS cells
    CROSS JOIN level_sets
    CROSS JOIN totals
    GROUP BY ALL
)
SELECT
    periods.period AS quarter,
    periods.period_type,
    periods.nationality_level,
    cells.nationality_member,
    periods.age_level,
    cells.age_member,
    periods.sex_level,
    cells.sex_member,
    periods.geography_level,
    cells.geography_member,
    CAST(sum(cells.registrations) AS INTEGER) AS registrations,
    CAST(sum(cells.key_sum) % record_key_range AS INTEGER) AS cell_key
FROM quarter_cells AS cells
JOIN level_sets USING (level_set)
JOIN quarters_of_periods AS periods
    ON periods.quarter = cells.quarter
   AND periods.nationality_level = level_sets.nationality_level AND periods.age_level = level_sets.age_level
   AND periods.sex_level = level_sets.sex_level AND periods.geography_level = level_sets.geography_level
GROUP BY ALL;

CREATE OR REPLACE TEMP MACRO perturbed_cells(periods, classifications, record_key_range) AS TABLE
-- The derived cells perturbed by the cell key method, with reference.ptable: a cell's row of the ptable is its pcv
-- (sql/ptable_row.sql: its count, or above the table's range a repeated row); its column is its cell key reduced to
-- the ptable's key range. Zero cells stay zero (no empty cell is derived, and row 0 of every ptable is zero).
WITH rule AS (
    SELECT max_pcv, repeat_period, key_range FROM reference.ptable_rule
),
cells AS (
    SELECT
        derived.*,
        ptable_row(derived.registrations, rule.max_pcv, rule.repeat_period) AS pcv,
        derived.cell_key % rule.key_range AS ckey
    FROM derived_cells(periods, classifications, record_key_range) AS derived, rule
)
SELECT
    cells.* EXCLUDE (pcv, ckey),
    -- a cell the ptable does not cover stops the query (and the run's transaction) rather than go unperturbed
    cells.registrations + coalesce(ptable.pvalue, error('the ptable has no entry for a cell''s row and key'))
        AS perturbed_value
FROM cells
LEFT JOIN reference.ptable AS ptable USING (pcv, ckey);
