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
WITH member_at_level AS (
    SELECT * FROM member_at_level()
),
wanted AS (
    SELECT unnest(classifications, recursive := true)
),
quarters_of_periods AS (
    -- the quarters a period's cells are summed over: its own, or the four to it
    SELECT period.label AS period, wanted.*, quarter_label(quarter_number(period.label) - back.quarters) AS quarter
    FROM (SELECT unnest(periods) AS label) AS period
    CROSS JOIN wanted
    JOIN (VALUES (0), (1), (2), (3)) AS back(quarters)
        ON back.quarters < CASE wanted.period_type WHEN 'year_ending' THEN 4 ELSE 1 END
)
SELECT
    periods.period AS quarter,
    periods.period_type,
    periods.nationality_level,
    nationality.ancestor_id AS nationality_member,
    periods.age_level,
    age.ancestor_id AS age_member,
    periods.sex_level,
    sex.ancestor_id AS sex_member,
    periods.geography_level,
    geography.ancestor_id AS geography_member,
    CAST(sum(cells.registrations) AS INTEGER) AS registrations,
    CAST(sum(cells.cell_key) % record_key_range AS INTEGER) AS cell_key
FROM stat.finest_cells AS cells
JOIN quarters_of_periods AS periods ON periods.quarter = cells.quarter
JOIN member_at_level AS nationality
    ON nationality.member_id = cells.nationality_member AND nationality.level = periods.nationality_level
JOIN member_at_level AS age ON age.member_id = cells.age_member AND age.level = periods.age_level
JOIN member_at_level AS sex ON sex.member_id = cells.sex_member AND sex.level = periods.sex_level
JOIN member_at_level AS geography
    ON geography.member_id = cells.geography_member AND geography.level = periods.geography_level
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
