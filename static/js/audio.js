// The Audio page: show only the fields the chosen model takes (from the page's "audio-models" data):
// the text and a voice of its own for a speech model, a description of the voice for one that
// designs it, a prompt and a duration for music and sound.
(() => {
  const setUp = () => {
    const form = document.getElementById("audio-form");
    const data = document.getElementById("audio-models");
    if (!form || !data) return;
    const models = JSON.parse(data.textContent);
    const select = form.querySelector("#id_model");
    const voice = form.querySelector("#id_voice");
    const duration = form.querySelector("#id_duration");
    const show = () => {
      const model = models[select.value];
      if (!model) return;
      const groups = model.fields.split(" ");
      form.querySelectorAll("[data-fields]").forEach((field) => {
        const wanted = field.dataset.fields;
        field.hidden = wanted !== "" && !groups.includes(wanted);
      });
      voice.querySelectorAll("optgroup").forEach((group) => {
        const mine = group.label === model.voices;
        group.hidden = !mine;
        group.disabled = !mine;
      });
      const current = voice.selectedOptions[0];
      if (model.voices && (!current || !current.parentElement || current.parentElement.label !== model.voices)) {
        const first = voice.querySelector(`optgroup[label="${CSS.escape(model.voices)}"] option`);
        if (first) voice.value = first.value;
      }
      duration.min = model.durations[0];
      duration.max = model.durations[1];
      duration.placeholder = `${model.duration} (the model's default)`;
    };
    select.addEventListener("change", show);
    show();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
