// Parses each Adaptive Card in a JSON file ({"name": card, ...}) with Microsoft's own renderer
// library, targeting Adaptive Cards 1.5 (Teams), and prints {"name": ["Phase/Event: message", ...]}
// for every card with a parse or validation event. Run by tests/test_card_validators.py.
"use strict";
const fs = require("fs");
const path = require("path");
// The package's lib/ build does not import under Node 20; its dist/ bundle does.
const AC = require(path.join(__dirname, "node_modules", "adaptivecards", "dist", "adaptivecards.js"));

function check(json) {
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(AC.Versions.v1_5);
  card.parse(json, context);
  const events = [];
  for (let i = 0; i < context.eventCount; i++) events.push(context.getEventAt(i));
  events.push(...card.validateProperties().validationEvents);
  return events.map((e) => `${AC.ValidationPhase[e.phase]}/${AC.ValidationEvent[e.event]}: ${e.message}`);
}

const cards = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const failures = {};
for (const [name, json] of Object.entries(cards)) {
  const found = check(json);
  if (found.length) failures[name] = found;
}
process.stdout.write(JSON.stringify({ checked: Object.keys(cards).length, failures }));
