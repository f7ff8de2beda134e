// Which model and version the page loads, on a site built from several models.
// Such a site's index.html names its catalogue (models.json) in a meta tag, and
// each version has its own manifest (models/NAME/VERSION/webml.json, file paths
// from the site root). A one-model site has neither and loads webml.json, as
// before. `?model=name@version` chooses a version, `?model=name` a model's
// latest; without it the page shows the catalogue's default model, latest.
// Only the chosen version's manifest is read, so only its files are downloaded.

/** The catalogue's URL when the page has one (a meta tag webml build writes), else null. */
export function catalogueUrl(doc = globalThis.document) {
  return doc?.querySelector('meta[name="webml-catalogue"]')?.getAttribute('content') || null;
}

/** `name@version` -> {name, version}; `name` -> {name, version: null} (its latest). */
export function parseChoice(text) {
  const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:@([0-9]+))?$/.exec(text);
  if (!match) throw new Error(`?model=${text} is not a model name or name@version`);
  return { name: match[1], version: match[2] === undefined ? null : Number(match[2]) };
}

/** Every `name@version` a catalogue holds, for messages. */
const labels = (catalogue) => catalogue.models.flatMap((m) => m.versions.map((v) => `${m.name}@${v.version}`));

/**
 * The version `choice` names in `catalogue` (null: the default model's latest).
 * @returns {{name: string, version: number, latest: number, entry: object, manifestUrl: string}}
 */
export function resolveChoice(catalogue, choice) {
  const { name, version } = choice ? parseChoice(choice) : { name: catalogue.default, version: null };
  const model = catalogue.models.find((m) => m.name === name);
  const entry = model?.versions.find((v) => v.version === (version ?? model.latest));
  if (!entry) throw new Error(`this site has no model ${choice}: it has ${labels(catalogue).join(', ')}`);
  return { name, version: entry.version, latest: model.latest, entry, manifestUrl: entry.manifest.path };
}

/**
 * Read the site's catalogue and pick the version `?model=` asks for.
 * Returns null on a one-model site (no catalogue), which loads webml.json.
 */
export async function chooseModel(params, doc = globalThis.document) {
  const url = catalogueUrl(doc);
  if (!url) return null;
  const response = await fetch(url, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
  const catalogue = await response.json();
  if (catalogue.catalogueVersion !== 1) throw new Error(`this page reads catalogue version 1, the site has ${catalogue.catalogueVersion}: build the site again`);
  return { catalogue, ...resolveChoice(catalogue, params.get('model')) };
}

/**
 * Fill the model and version pickers (`modelSelect`, `versionSelect`) and show
 * `panel` when the catalogue holds more than one version. A change opens the
 * page again on the chosen `?model=`: one page runs one model, and a version's
 * link is one to keep.
 */
export function showPicker(chosen, params, { panel, modelSelect, versionSelect }) {
  const { catalogue } = chosen;
  if (labels(catalogue).length < 2) return;
  for (const model of catalogue.models) {
    modelSelect.add(new Option(model.name, model.name, false, model.name === chosen.name));
  }
  const current = catalogue.models.find((m) => m.name === chosen.name);
  for (const { version, title } of [...current.versions].reverse()) {
    const text = `${version}${version === current.latest ? ' (latest)' : ''} · ${title}`;
    versionSelect.add(new Option(text, String(version), false, version === chosen.version));
  }
  const open = (value) => {
    params.set('model', value);
    location.search = params.toString();
  };
  // Another model may ship other backends: it starts on its own choice.
  modelSelect.addEventListener('change', () => { params.delete('backend'); open(modelSelect.value); });
  versionSelect.addEventListener('change', () => open(`${chosen.name}@${versionSelect.value}`));
  panel.hidden = false;
}
