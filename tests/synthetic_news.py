"""Two short made-up news articles that several test modules index.

Expectations in the tests are read off these texts (the pillar list, the
dates, the numbers), never off esqa's output.
"""

HARBOUR = (
    "Harbour Authority Unveils Coastal Resilience Plan\n"
    "\n"
    "The Coastal Resilience Agency (CRA) presented its new flood plan to the Portwell "
    "city council on March 3, 2021.\n"
    "\n"
    "The strategy has four pillars: building sea walls, restoring wetlands, relocating "
    "pumping stations, and training volunteer wardens.\n"
    "\n"
    "About 35% of Portwell's residents live within a kilometre of the shore, according "
    "to the CRA.\n"
    "The agency said the restored wetlands would also shelter migrating cranes\n"
    "in spring and autumn.\n"
    "\n"
    "Officials estimated that the plan would cost about 40 million euros over a decade.\n"
)

BRIDGE = (
    "Lakeside Bridge Marks Its Anniversary\n"
    "\n"
    "The Lakeside Bridge was opened to traffic in September 1987 after six years of "
    "construction.\n"
    "\n"
    "Engineers replaced the bridge's steel cables in 2015, when corrosion was found near "
    "the eastern tower.\n"
    "\n"
    "Around 18,000 vehicles cross the bridge every day, the county transport office said.\n"
)
