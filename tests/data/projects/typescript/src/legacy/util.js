function legacyHelper(value) {
  return value * 2;
}
module.exports = { legacyHelper };
