const { legacyHelper } = require('./util');
const result = legacyHelper(21);
