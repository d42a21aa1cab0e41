-- The postcode lookup (NSPL-shaped): postcode -> output area -> local authority -> region -> country.
-- `postcode_key` is the postcode in upper case without spaces, the form a scan's postcode is matched on.
SELECT
    upper(replace(pcds, ' ', '')) AS postcode_key,
    pcds,
    pcd7,
    oa21cd AS output_area_code,
    lad23cd AS lad_code,
    rgn23cd AS region_code,
    ctry23cd AS country_code
FROM read_csv($postcode_lookup_csv, header = true, all_varchar = true)
