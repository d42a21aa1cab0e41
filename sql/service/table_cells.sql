-- The cells of one requested table, perturbed. Each field's finest codes are sorted into classes (codes that belong to
-- the same items of the request: `code_classes`), records are summed by class, and each class is counted in every item
-- it belongs to (`class_items`, totals included), so that a cell's count and key sum are exactly those of its own
-- records even when items overlap. Cells are read at the request's grain (`rollup_cells` of $grain): each field at the
-- coarsest level whose members its items are made of (codes are then that level's members), or summed over when the
-- request does not ask for it, as one class in one item. Then the published tables' rule (sql/perturbed_counts.sql):
-- pcv from the count (sql/ptable_row.sql), ckey = cell key modulo the ptable's key range, perturbed value = count +
-- pvalue. Only non-empty cells come back: an empty cell stays zero.
WITH quarter_classes AS (SELECT code, class FROM code_classes WHERE field = 'quarter'),
nationality_classes AS (SELECT code, class FROM code_classes WHERE field = 'nationality'),
age_classes AS (SELECT code, class FROM code_classes WHERE field = 'age'),
sex_classes AS (SELECT code, class FROM code_classes WHERE field = 'sex'),
geography_classes AS (SELECT code, class FROM code_classes WHERE field = 'geography'),
class_cells AS (
    SELECT
        quarter_classes.class AS quarter_class,
        nationality_classes.class AS nationality_class,
        age_classes.class AS age_class,
        sex_classes.class AS sex_class,
        geography_classes.class AS geography_class,
        sum(cells.registrations) AS registrations,
        sum(cells.key_sum) AS key_sum
    FROM rollup_cells AS cells
    JOIN quarter_classes ON quarter_classes.code = cells.quarter
    JOIN nationality_classes ON nationality_classes.code = cells.nationality
    JOIN age_classes ON age_classes.code = cells.age
    JOIN sex_classes ON sex_classes.code = cells.sex
    JOIN geography_classes ON geography_classes.code = cells.geography
    WHERE cells.grain = $grain
    GROUP BY ALL
),
quarter_items AS (SELECT class, item FROM class_items WHERE field = 'quarter'),
nationality_items AS (SELECT class, item FROM class_items WHERE field = 'nationality'),
age_items AS (SELECT class, item FROM class_items WHERE field = 'age'),
sex_items AS (SELECT class, item FROM class_items WHERE field = 'sex'),
geography_items AS (SELECT class, item FROM class_items WHERE field = 'geography'),
item_cells AS (
    SELECT
        quarter_items.item AS quarter_item,
        nationality_items.item AS nationality_item,
        age_items.item AS age_item,
        sex_items.item AS sex_item,
        geography_items.item AS geography_item,
        CAST(sum(class_cells.registrations) AS BIGINT) AS registrations,
        CAST(sum(class_cells.key_sum) % $record_key_range AS INTEGER) AS cell_key
    FROM class_cells
    JOIN quarter_items ON quarter_items.class = class_cells.quarter_class
    JOIN nationality_items ON nationality_items.class = class_cells.nationality_class
    JOIN age_items ON age_items.class = class_cells.age_class
    JOIN sex_items ON sex_items.class = class_cells.sex_class
    JOIN geography_items ON geography_items.class = class_cells.geography_class
    GROUP BY ALL
),
rule AS (
    SELECT max_pcv, repeat_period, key_range FROM ptable_rule
),
keyed_cells AS (
    SELECT
        item_cells.* EXCLUDE (cell_key),
        ptable_row(item_cells.registrations, rule.max_pcv, rule.repeat_period) AS pcv,
        item_cells.cell_key % rule.key_range AS ckey
    FROM item_cells, rule
)
SELECT
    keyed_cells.quarter_item,
    keyed_cells.nationality_item,
    keyed_cells.age_item,
    keyed_cells.sex_item,
    keyed_cells.geography_item,
    keyed_cells.registrations + ptable.pvalue AS perturbed_value
FROM keyed_cells
JOIN ptable USING (pcv, ckey)
