'use strict'
// The compiled addon; throws (MODULE_NOT_FOUND, or the loader's error) when it was not built here.
module.exports = require('./build/Release/gmp.node')
