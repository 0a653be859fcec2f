/* The forecast page (templates/boards/forecast.html): asks the API for a Monte Carlo forecast
 * (GET /api/v1/boards/{id}/forecast/) and its backtest (/forecast/backtest/), and shows the
 * answers as sentences, a table of the four confidences and a histogram of the days sampled.
 */
import { api } from "./lib/api.js";

const page = document.querySelector(".forecast-page");
const board = page.dataset.boardId;
const form = document.getElementById("forecast-form");
const backtestForm = document.getElementById("backtest-form");

/** The filters and history chosen in the forecast's form, as query parameters. */
function filterParams() {
  const params = new URLSearchParams();
  for (const name of ["class_of_service", "customer", "from"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

function showError(element, error) {
  const fields = Object.entries(error.fields || {});
  element.textContent = fields.length
    ? fields.map(([name, problems]) => `${name.replaceAll("_", " ")}: ${[].concat(problems).join(" ")}`).join(" ")
    : error.message;
  element.hidden = false;
}

function cell(row, text, tag = "td") {
  const element = document.createElement(tag);
  element.textContent = text;
  row.append(element);
  return element;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function drawHistory(history) {
  document.getElementById("fc-history").textContent =
    `${plural(history.days_sampled, "day")} sampled, ${history.start} to ${history.end}: ` +
    `${plural(history.cards_finished, "card")} finished, ${plural(history.zero_days, "day")} with none.`;
  const chart = document.getElementById("fc-histogram");
  chart.replaceChildren();
  const most = Math.max(1, ...history.histogram.map((bar) => bar.days));
  for (const bar of history.histogram) {
    const column = document.createElement("div");
    column.className = bar.per_day === 0 ? "fc-bar zero" : "fc-bar";
    column.title = `${plural(bar.days, "day")} finished ${plural(bar.per_day, "card")}`;
    const count = document.createElement("span");
    count.textContent = bar.days;
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.setProperty("--h", `${(bar.days / most) * 85}%`);
    const label = document.createElement("span");
    label.textContent = bar.per_day;
    column.append(count, fill, label);
    chart.append(column);
  }
  chart.setAttribute(
    "aria-label",
    history.histogram.map((bar) => `${plural(bar.days, "day")} with ${bar.per_day}`).join(", ") + " (cards finished per day)",
  );
}

function drawForecast(answer) {
  const result = document.getElementById("fc-result");
  const headline = document.getElementById("fc-headline");
  const rows = document.getElementById("fc-levels");
  rows.replaceChildren();
  drawHistory(answer.history);
  result.hidden = false;
  if (!answer.can_forecast) {
    headline.textContent = answer.message;
    return;
  }
  const asked = answer.how_many_by || answer.when;
  const levels = asked.levels;
  const at85 = levels.find((level) => level.confidence === 85);
  headline.textContent = at85.sentence;
  document.getElementById("fc-answer-head").textContent = answer.how_many_by
    ? `Cards finished by ${answer.how_many_by.date}`
    : `${plural(answer.when.cards, "card")} done by`;
  for (const level of levels) {
    const row = document.createElement("tr");
    row.dataset.confidence = level.confidence;
    if (level.confidence === 85) row.className = "is-85";
    cell(row, `${level.confidence} %`);
    if (answer.how_many_by) cell(row, `at least ${level.at_least}`);
    else cell(row, level.date ? `${level.date} (${plural(level.days, "day")})` : "not within ten years");
    rows.append(row);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("fc-error");
  error.hidden = true;
  const params = filterParams();
  const question = form.elements.question.value;
  params.set(question, form.elements[question].value.trim());
  const button = document.getElementById("fc-run");
  button.disabled = true;
  try {
    drawForecast(await api("GET", `/boards/${board}/forecast/?${params}`));
  } catch (failure) {
    showError(error, failure);
  } finally {
    button.disabled = false;
  }
});

// Typing in a question's input picks that question.
for (const name of ["how_many_by", "when"]) {
  form.elements[name].addEventListener("input", () => {
    form.querySelector(`input[name=question][value=${name}]`).checked = true;
  });
}

backtestForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("bt-error");
  error.hidden = true;
  const params = filterParams();
  const horizon = backtestForm.elements.horizon.value.trim();
  if (horizon) params.set("horizon", horizon);
  const button = document.getElementById("bt-run");
  button.disabled = true;
  try {
    const answer = await api("GET", `/boards/${board}/forecast/backtest/?${params}`);
    document.getElementById("bt-horizon-echo").textContent = answer.horizon_days;
    const list = document.getElementById("bt-levels");
    list.replaceChildren();
    for (const level of answer.levels) {
      const item = document.createElement("li");
      item.dataset.confidence = level.confidence;
      item.textContent = level.sentence;
      // a forecast that held less often than it promised
      if (level.rate !== null && level.rate < level.confidence / 100) item.className = "short";
      list.append(item);
    }
    document.getElementById("bt-result").hidden = false;
  } catch (failure) {
    showError(error, failure);
  } finally {
    button.disabled = false;
  }
});
