-- Parse the data records of a set of scan files, set-wise: one pass over every file of the run.
-- $scan_files lists each file (path, quarter, extract date, first and last data line, as checked against its header
-- and trailer beforehand); $scan_paths lists the same paths for read_text, which takes a constant list. Every data
-- line comes out once: typed when it parses,
-- with `reject_reason` saying which rule it broke when it does not. Dates must be real calendar dates, YYYY-MM-DD.
WITH scan_files AS (
    SELECT unnest($scan_files, recursive := true)
),
file_lines AS (
    -- each file's lines, with its quarter and data lines: joined by file, not by line
    SELECT scan_files.quarter AS scan_quarter, scan_files.first_data_line, scan_files.last_data_line,
           string_split(file_text.content, chr(10)) AS lines
    FROM read_text($scan_paths) AS file_text
    JOIN scan_files ON scan_files.path = file_text.filename
),
numbered_lines AS (
    SELECT scan_quarter, first_data_line, last_data_line,
           generate_subscripts(lines, 1) AS line_number, unnest(lines) AS line
    FROM file_lines
),
data_lines AS MATERIALIZED (
    -- the lines come from a few files: materialised (narrow), so that everything after them runs on every core
    SELECT scan_quarter, line_number, line
    FROM numbered_lines
    WHERE line_number BETWEEN first_data_line AND last_data_line
),
typed_fields AS NOT MATERIALIZED (
    -- not materialised: a list of fields for each of millions of lines costs more to store than to split again
    SELECT
        * EXCLUDE (fields),
        len(fields) AS field_count,
        TRY_CAST(fields[1] AS BIGINT) AS record_id,
        fields[2] AS nino,
        fields[3] AS date_of_birth_text,
        fields[4] AS sex,
        fields[5] AS nationality,
        fields[6] AS registration_date_text,
        fields[7] AS arrival_date_text,
        nullif(fields[8], '') AS postcode
    FROM (SELECT *, string_split(line, '|') AS fields FROM data_lines)
    JOIN (SELECT quarter AS scan_quarter, path AS source_file, extract_date FROM scan_files) USING (scan_quarter)
),
typed_dates AS (
    SELECT
        *,
        CASE WHEN regexp_full_match(date_of_birth_text, '\d{4}-\d{2}-\d{2}')
             THEN TRY_CAST(date_of_birth_text AS DATE) END AS date_of_birth,
        CASE WHEN regexp_full_match(registration_date_text, '\d{4}-\d{2}-\d{2}')
             THEN TRY_CAST(registration_date_text AS DATE) END AS registration_date,
        CASE WHEN regexp_full_match(arrival_date_text, '\d{4}-\d{2}-\d{2}')
             THEN TRY_CAST(arrival_date_text AS DATE) END AS arrival_date
    FROM typed_fields
),
repeated_record_ids AS (
    -- the format makes a record id unique within its file: lines that share one are all rejected, each naming the
    -- others, since which of them is the record cannot be told (a quarter is one file; grouped, not windowed:
    -- repeats are rare)
    SELECT scan_quarter, record_id, list(line_number ORDER BY line_number) AS lines_with_this_record_id
    FROM typed_fields
    WHERE record_id IS NOT NULL
    GROUP BY ALL
    HAVING count(*) > 1
),
judged_lines AS (
    SELECT
        typed_dates.*,
        CASE
            WHEN field_count <> 8 THEN format('expected 8 fields, found {}', field_count)
            WHEN record_id IS NULL OR record_id <= 0 THEN 'record_id is not a positive whole number'
            WHEN repeated.lines_with_this_record_id IS NOT NULL THEN format(
                'record_id is not unique in the file: {} is also on line(s) {}', record_id,
                array_to_string(list_filter(repeated.lines_with_this_record_id, lambda other: other <> line_number),
                                ', '))
            WHEN date_of_birth_text <> '' AND date_of_birth IS NULL
                THEN 'date_of_birth is not a real date in YYYY-MM-DD form'
            WHEN registration_date IS NULL THEN 'registration_date is missing or not a real date in YYYY-MM-DD form'
            WHEN arrival_date_text <> '' AND arrival_date IS NULL THEN 'arrival_date is not a real date in YYYY-MM-DD form'
        END AS reject_reason
    FROM typed_dates
    LEFT JOIN repeated_record_ids AS repeated USING (scan_quarter, record_id)
)
SELECT
    scan_quarter,
    source_file,
    line_number,
    extract_date,
    record_id,
    nino,
    date_of_birth,
    sex,
    nationality,
    registration_date,
    arrival_date,
    postcode,
    -- the line as delivered is kept for a rejected line only: a parsed record is its fields
    CASE WHEN reject_reason IS NOT NULL THEN line END AS line,
    reject_reason
FROM judged_lines
