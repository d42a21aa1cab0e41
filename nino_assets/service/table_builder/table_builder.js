// The table builder: reads the schema and asks for tables through this service's own Open Data API, with the
// user's key, so the same keys, limits, release and perturbation apply as to any client. It shows and downloads
// /table's answer as it came: it never computes, rounds or alters a number.
"use strict";

const API = new URL("../webapi/rest/v1/", document.baseURI);
const KEY_STORE = "nino-table-builder-api-key";
const MAX_RENDERED_CELLS = 50000;
// thousands separators, and every digit the service sent
const NUMBER = new Intl.NumberFormat("en-GB", {maximumFractionDigits: 20});
const QUARTER_LABEL = /^(\d{4})-Q([1-4])$/;

const PLAIN_ERRORS = {
  forbidden: "The service did not accept this API key. Check that you pasted all of it, or ask for a new key.",
  rateLimitExceeded: "This key has used all of its requests for now.",
  cellLimitExceeded: "This table would be larger than the service allows. Choose fewer fields or fewer values.",
  unknownId: "The service does not know one of the choices: the release may have changed. Reload the page and " +
             "choose again.",
  requestTooLarge: "The request is too large for the service. Choose fewer values.",
  badRequest: "The service could not read this table request.",
  internalError: "The service could not answer this request. Try again later.",
};

const page = {
  status: document.getElementById("status"),
  error: document.getElementById("error"),
  keyForm: document.getElementById("key-form"),
  key: document.getElementById("api-key"),
  forgetKey: document.getElementById("forget-key"),
  queryForm: document.getElementById("query-form"),
  databaseLabel: document.getElementById("database-label"),
  measures: document.getElementById("measures"),
  fields: document.getElementById("fields"),
  build: document.getElementById("build"),
  result: document.getElementById("result"),
  resultHeading: document.getElementById("result-heading"),
  resultNote: document.getElementById("result-note"),
  downloadCsv: document.getElementById("download-csv"),
  tableWrap: document.getElementById("table-wrap"),
  annotations: document.getElementById("annotations"),
};

let database = null;  // the schema's database: {id, label, measures, fields}
let fieldControls = [];
let shown = null;  // the table on the page as read from its /table answer: both the table and the CSV come from it

class PlainError extends Error {}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) node.setAttribute(name, "");
    else if (value !== false && value != null) node.setAttribute(name, value);
  }
  node.append(...children);  // strings become text, never markup
  return node;
}

function say(message) {
  page.error.textContent = "";
  page.status.textContent = message;
}

function complain(error) {
  page.status.textContent = "";
  page.error.textContent = error instanceof PlainError ? error.message : `Something went wrong: ${error.message}`;
}

const resetTime = response => new Date(Number(response.headers.get("X-RateLimit-Reset"))).toLocaleTimeString("en-GB");

function plainError(response, body) {
  const plain = PLAIN_ERRORS[body?.errorType] ?? `The service answered ${response.status}.`;
  // the service's own words add the sizes and ids involved; for the rate limit, the time it resets says more
  const detail = body?.errorType === "rateLimitExceeded"
    ? ` You can ask again after ${resetTime(response)}.` : body?.message ? ` (The service said: ${body.message}.)` : "";
  return new PlainError(plain + detail);
}

async function ask(path, body) {
  const headers = {APIKey: sessionStorage.getItem(KEY_STORE) ?? ""};
  const request = body === undefined ? {headers}
    : {method: "POST", headers: {...headers, "Content-Type": "application/json"}, body: JSON.stringify(body)};
  let response;
  try {
    response = await fetch(new URL(path, API), request);
  } catch {
    throw new PlainError("The query service could not be reached. Check your connection and try again.");
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw plainError(response, answer);
  return {answer, left: `${response.headers.get("X-RateLimit-Remaining")} requests left until ${resetTime(response)}`};
}

async function node(id) {
  return (await ask(`schema/${encodeURIComponent(id)}`)).answer;
}

const childrenOf = (parent, type) => parent.children.filter(child => child.type === type);

async function readDatabase() {
  // the first database in the folders under the root; none before the first release
  let folders = [(await ask("schema")).answer];
  while (folders.length) {
    const found = folders.flatMap(folder => childrenOf(folder, "DATABASE"));
    if (found.length) return node(found[0].id);
    folders = await Promise.all(folders.flatMap(folder => childrenOf(folder, "FOLDER")).map(child => node(child.id)));
  }
  return null;
}

async function readSchema() {
  const found = await readDatabase();
  if (!found) throw new PlainError("No release is being served yet, so there is nothing to build a table from.");
  const fields = await Promise.all(childrenOf(found, "FIELD").map(async field => ({
    id: field.id,
    label: field.label,
    valuesets: await Promise.all(childrenOf(await node(field.id), "VALUESET").map(async valueset => ({
      id: valueset.id,
      label: valueset.label,
      values: childrenOf(await node(valueset.id), "VALUE").map(({id, label}) => ({label, members: [id]})),
    }))),
  })));
  return {id: found.id, label: found.label, measures: childrenOf(found, "MEASURE"), fields: fields.map(withYears)};
}

function withYears(field) {
  // Years as Stat-Xplore's users build them: each a custom group of its four quarters, which the service counts
  // and perturbs as one cell (never a sum of the quarters' figures). Offered for the field of quarters.
  const [quarters] = field.valuesets;
  const numbers = quarters.values.map(value => QUARTER_LABEL.exec(value.label));
  if (field.valuesets.length !== 1 || !numbers.every(Boolean)) return field;
  const number = match => 4 * Number(match[1]) + Number(match[2]);
  const ending = quarters.values.flatMap((value, index) =>
    index >= 3 && number(numbers[index]) - number(numbers[index - 3]) === 3
      ? [{label: `Year to the end of ${value.label}`,
          members: quarters.values.slice(index - 3, index + 1).flatMap(quarter => quarter.members)}] : []);
  const calendar = ending.filter(year => year.label.endsWith("-Q4"))
    .map(year => ({label: `Calendar year ${year.label.slice(-7, -3)}`, members: year.members}));
  return {...field, valuesets: [quarters, {label: "Years to the end of each quarter", values: ending},
                                {label: "Calendar years", values: calendar}]};
}

function measureChoices(measures) {
  return element("fieldset", {}, element("legend", {}, "Measure"), ...measures.map((measure, number) =>
    element("div", {class: "choice"},
      element("input", {type: "radio", name: "measure", id: `measure-${number}`, value: measure.id,
                        checked: number === 0}),
      element("label", {for: `measure-${number}`}, measure.label))));
}

function choice(type, id, name, label, checked = false) {
  return element("div", {class: "choice"}, element("input", {type, id, name, checked}),
                 element("label", {for: id}, label));
}

function fieldControl(field, number) {
  const id = part => `field-${number}-${part}`;
  const place = element("select", {id: id("place")}, element("option", {value: ""}, "Not in the table"),
                        element("option", {value: "row"}, "Rows"), element("option", {value: "column"}, "Columns"));
  const level = element("select", {id: id("level")},
                        ...field.valuesets.map((valueset, index) => element("option", {value: index}, valueset.label)));
  const every = choice("radio", id("every"), id("values"), "All values", true);
  const some = choice("radio", id("some"), id("values"), "Only the values I choose");
  const filter = element("input", {type: "search", id: id("filter"), autocomplete: "off"});
  const list = element("ul", {class: "values"});
  const count = element("p", {class: "hint", id: id("count")});
  const total = choice("checkbox", id("total"), id("total"), "Show a total");
  const picker = element("div", {hidden: true},
    element("label", {for: id("filter")}, "Filter the values"), " ", filter,
    element("div", {}, element("button", {type: "button", class: "secondary", "data-check": "all"}, "Select all shown"),
            element("button", {type: "button", class: "secondary", "data-check": "none"}, "Clear all shown")),
    element("fieldset", {"aria-describedby": id("count")},
            element("legend", {}, `Values of ${field.label} to include`), list),
    count);
  const details = element("div", {hidden: true},
    field.valuesets.length > 1 ? element("div", {class: "field-part"},
                                         element("label", {for: id("level")}, "Level"), " ", level) : "",
    element("fieldset", {}, element("legend", {}, "Values to include"), every, some),
    picker, total);
  const control = {field, place, level, some: some.firstChild, total: total.firstChild, list};

  const countChosen = () => {
    const boxes = list.querySelectorAll("input");
    const chosen = list.querySelectorAll("input:checked").length;
    count.textContent = `${chosen} of ${boxes.length} values chosen`;
  };
  const fillValues = () => {
    const values = field.valuesets[level.value].values;
    list.replaceChildren(...values.map((value, index) => element("li", {"data-label": value.label.toLowerCase()},
      element("input", {type: "checkbox", id: id(`value-${index}`), value: value.members.join(" ")}),
      element("label", {for: id(`value-${index}`)}, value.label))));
    filter.value = "";
    countChosen();
  };
  place.addEventListener("change", () => { details.hidden = !place.value; });
  level.addEventListener("change", fillValues);
  details.addEventListener("change", event => {
    if (event.target.name === id("values")) picker.hidden = !control.some.checked;
    if (event.target.type === "checkbox") countChosen();
  });
  filter.addEventListener("input", () => {
    const wanted = filter.value.trim().toLowerCase();
    for (const item of list.children) item.hidden = !item.dataset.label.includes(wanted);
  });
  picker.addEventListener("click", event => {
    if (!("check" in event.target.dataset)) return;
    for (const item of list.children) if (!item.hidden) item.firstChild.checked = event.target.dataset.check === "all";
    countChosen();
  });
  fillValues();
  control.element = element("fieldset", {class: "field"}, element("legend", {}, field.label),
    element("div", {class: "field-part"}, element("label", {for: id("place")}, "Place in the table"), " ", place),
    details);
  return control;
}

function showSchema(schema) {
  database = schema;
  fieldControls = schema.fields.map(fieldControl);
  page.databaseLabel.textContent = schema.label;
  page.measures.replaceChildren(measureChoices(schema.measures));
  page.fields.replaceChildren(...fieldControls.map(control => control.element));
  page.queryForm.hidden = false;
}

function tableQuery() {
  const chosen = fieldControls.filter(control => control.place.value);
  const columns = chosen.filter(control => control.place.value === "column");
  if (!chosen.length) throw new PlainError("Choose at least one field for the table.");
  if (columns.length > 1) throw new PlainError("Only one field can go in the columns: put the others in the rows.");
  const ordered = [...chosen.filter(control => control.place.value === "row"), ...columns];
  const recodes = {};
  const labels = [];  // of each field's items as asked for: a year is named, not listed as its quarters
  for (const control of ordered) {
    const all = control.field.valuesets[control.level.value].values;
    const chosen = control.some.checked
      ? [...control.list.querySelectorAll("input")].flatMap((box, index) => box.checked ? [all[index]] : [])
      : all;
    if (!chosen.length) throw new PlainError(`Choose at least one value of ${control.field.label}, or all values.`);
    recodes[control.field.id] = {map: chosen.map(value => value.members), total: control.total.checked};
    labels.push(chosen.map(value => value.label));
  }
  const measure = page.measures.querySelector("input:checked").value;
  return {query: {database: database.id, measures: [measure], recodes, dimensions: ordered.map(c => [c.field.id])},
          hasColumns: columns.length === 1, labels};
}

// an item as the answer names it (a total, a value), or by the name of the group the page asked for
const itemLabel = (item, asked) => item.labels.length > 1 && asked ? asked : item.labels.join(" + ");
const listed = labels => labels.length > 1 ? `${labels.slice(0, -1).join(", ")} and ${labels.at(-1)}` : labels[0];

function tableModel(answer, hasColumns, labels) {
  // the answer's own labels and values, last field fastest: each run of one row's columns is a row
  const measure = answer.measures[0];
  const itemLabels = answer.fields.map((field, number) =>
    field.items.map((item, index) => itemLabel(item, labels[number][index])));
  const rowLabelsOf = hasColumns ? itemLabels.slice(0, -1) : itemLabels;
  const rowFields = hasColumns ? answer.fields.slice(0, -1) : answer.fields;
  const columns = hasColumns ? itemLabels.at(-1) : [measure.label];
  const values = [answer.cubes[measure.uri].values].flat(Infinity);
  const sizes = rowFields.map(field => field.items.length);
  const rowLabels = number => {
    const labels = [];
    for (let index = sizes.length - 1; index >= 0; index--) {
      labels.unshift(rowLabelsOf[index][number % sizes[index]]);
      number = Math.floor(number / sizes[index]);
    }
    return labels.length ? labels : [measure.label];
  };
  return {
    caption: `${measure.label} by ${listed(answer.fields.map(field => field.label))}`,
    rowHeaders: rowFields.length ? rowFields.map(field => field.label) : ["Measure"],
    columns,
    rows: values.length / columns.length,
    row: number => ({labels: rowLabels(number), values: values.slice(number * columns.length,
                                                                     (number + 1) * columns.length)}),
  };
}

function renderTable(model) {
  const rendered = Math.min(model.rows, Math.max(1, Math.floor(MAX_RENDERED_CELLS / model.columns.length)));
  const table = element("table", {},
    element("caption", {id: "result-caption"}, model.caption),
    element("thead", {}, element("tr", {},
      ...model.rowHeaders.map(label => element("th", {scope: "col"}, label)),
      ...model.columns.map(label => element("th", {scope: "col", class: "number"}, label)))));
  const body = element("tbody");
  for (let number = 0; number < rendered; number++) {
    const {labels, values} = model.row(number);
    body.append(element("tr", {}, ...labels.map(label => element("th", {scope: "row"}, label)),
                        ...values.map(value => element("td", {}, NUMBER.format(value)))));
  }
  table.append(body);
  page.tableWrap.replaceChildren(table);  // into the page once built: one layout, not one a cell
  page.resultNote.textContent = rendered < model.rows
    ? `The table has ${NUMBER.format(model.rows)} rows; the first ${NUMBER.format(rendered)} are shown here. ` +
      "The CSV download holds every row."
    : `${NUMBER.format(model.rows)} rows and ${NUMBER.format(model.columns.length)} columns of figures.`;
}

const csvCell = text => /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;

function csvText(model) {
  const lines = [[...model.rowHeaders, ...model.columns]];
  for (let number = 0; number < model.rows; number++) {
    const {labels, values} = model.row(number);
    lines.push([...labels, ...values.map(String)]);
  }
  return lines.map(cells => cells.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function download() {
  const link = element("a", {href: URL.createObjectURL(new Blob([csvText(shown)], {type: "text/csv;charset=utf-8"})),
                             download: "nino-registrations.csv"});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

async function connect() {
  page.queryForm.hidden = page.result.hidden = true;
  say("Reading what the service offers…");
  try {
    showSchema(await readSchema());
    say("Choose the fields and values for your table, then build it.");
  } catch (error) {
    complain(error);
  }
}

async function build(event) {
  event.preventDefault();
  page.build.disabled = true;
  try {
    const {query, hasColumns, labels} = tableQuery();
    say("Building the table…");
    const {answer, left} = await ask("table", query);
    shown = tableModel(answer, hasColumns, labels);
    renderTable(shown);
    page.annotations.replaceChildren(...Object.values(answer.annotationMap ?? {}).map(text => element("p", {}, text)));
    page.result.hidden = false;
    page.resultHeading.focus();
    say(`Table built: ${shown.caption}. This key has ${left}.`);
  } catch (error) {
    complain(error);
  } finally {
    page.build.disabled = false;
  }
}

page.keyForm.addEventListener("submit", event => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORE, page.key.value.trim());
  connect();
});
page.forgetKey.addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORE);
  page.key.value = "";
  page.queryForm.hidden = page.result.hidden = true;
  say("The key is forgotten.");
});
page.queryForm.addEventListener("submit", build);
page.downloadCsv.addEventListener("click", download);
if (sessionStorage.getItem(KEY_STORE)) {
  page.key.value = sessionStorage.getItem(KEY_STORE);
  connect();
}
