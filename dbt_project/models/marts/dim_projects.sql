{#- Residential complexes (ЖК) with their branch. -#}
select project_code, project_name, branch
from {{ ref('projects') }}
